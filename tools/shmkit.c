#include "shmkit.h"
#include <stdio.h>
int main(void) { printf("shmkit %s\n", shmkit_version_string()); return 0; }
