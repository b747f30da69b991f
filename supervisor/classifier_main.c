/* switchyard-classifier: the classifier process on its own, so that only
 * it links the encoder engine's BLAS and CUDA libraries. `switchyard
 * classifier -c CONFIG` execs it; it takes `-c CONFIG` or `classifier -c
 * CONFIG`. */
#include <stdio.h>
#include <string.h>

#include "classifier/daemon.h"
#include "supervisor/rolelock.h"

int main(int argc, char **argv) {
        int i = 1;

        if (i < argc && strcmp(argv[i], "classifier") == 0)
                i++;
        if (i + 1 < argc && (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0)) {
                /* one instance per runtime directory (common/lockfile.h) */
                if (rolelock_take(argv[i + 1], LOCKFILE_CLASSIFIER, "classifier") < 0)
                        return 1;
                return classifier_main(argv[i + 1]);
        }
        fprintf(stderr, "usage: switchyard-classifier -c CONFIG\n");
        return 2;
}
