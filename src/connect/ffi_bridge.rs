// TEMPORARY SHIM until the real module lands.
