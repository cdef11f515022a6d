file(REMOVE_RECURSE
  "libshmkit.a"
  "libshmkit.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/shmkit_static.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
