# Empty dependencies file for shmkit_obj.
# This may be replaced when dependencies are built.
