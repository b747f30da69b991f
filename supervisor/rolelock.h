#pragma once
/* The process of one role (`switchyard router|frontend`, switchyard-
 * classifier) joins its runtime directory's instance before it opens the
 * segment or a doorbell: common/lockfile.h's role lock, taken with the
 * runtime directory of config_path. Logs (as ident) and returns -errno when
 * refused: another instance, or another process of the role, runs there.
 * A configuration that does not load is left to the role's main to report. */
#include "common/lockfile.h"

int rolelock_take(const char *config_path, enum lockfile_role role, const char *ident);
