"""pytest plugin (entry point ``pytest11: mmkit``): fixtures for plugin authors."""
