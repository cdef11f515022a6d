# Empty compiler generated dependencies file for shmkit_testlib.
# This may be replaced when dependencies are built.
