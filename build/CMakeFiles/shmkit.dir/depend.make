# Empty dependencies file for shmkit.
# This may be replaced when dependencies are built.
