"""The kernel's foundation: settings, clock, ids, who acts (principal), problem errors, patching."""
