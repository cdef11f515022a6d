# Empty compiler generated dependencies file for shmkit_static.
# This may be replaced when dependencies are built.
