#ifndef PIPE_CBLAS_SHIM_H
#define PIPE_CBLAS_SHIM_H
// OpenBLAS's cblas.h (Debian's libopenblas-dev; the openblas pkg-config entry adds its include directory).
// It also declares openblas_set_num_threads, which the thread-count params use.
#include <cblas.h>
#endif
