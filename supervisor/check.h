/* switchyard check's report of a loaded configuration (supervisor/check.c). */
#pragma once
#include <stdio.h>

#include "common/config.h"

void check_print(FILE *f, const struct sy_config *cfg);
