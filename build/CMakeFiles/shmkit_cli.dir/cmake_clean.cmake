file(REMOVE_RECURSE
  "CMakeFiles/shmkit_cli.dir/tools/shmkit.c.o"
  "CMakeFiles/shmkit_cli.dir/tools/shmkit.c.o.d"
  "shmkit"
  "shmkit.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/shmkit_cli.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
