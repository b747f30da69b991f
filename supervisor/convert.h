/* switchyard convert (supervisor/convert.c): prints path in the other form
 * (classic <-> v0.3) on stdout; 0, or 1 with the reasons on stderr. */
#pragma once

int convert_main(const char *path);
