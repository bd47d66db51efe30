"""entitlements's use cases, one file per aggregate, plus pure logic (periods, schedules,
aggregation) that the tests exercise directly."""
