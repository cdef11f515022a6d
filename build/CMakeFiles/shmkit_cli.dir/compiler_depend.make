# Empty compiler generated dependencies file for shmkit_cli.
# This may be replaced when dependencies are built.
