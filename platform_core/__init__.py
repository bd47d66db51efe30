"""Keel's shared kernel, grouped by concern and layered (importlinter.ini, top to bottom): `cli`,
`http`, `runtime` and `embedded`, `auth`, `messaging`, `cache`, `persistence`, `core`. It knows
no module: modules plug in through `runtime.module.ModuleSpec`."""
