file(REMOVE_RECURSE
  "libshmkit.a"
)
