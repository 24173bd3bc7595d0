"""pytest plugin: fixtures that start an isolated Mini stack on free ports in a temporary data dir."""
