// Allowed includes only: the checker must not report this file.
#include <vector>
#include "mp1boot/bytes.hpp"
#include "mp1boot/uart/wire.hpp"
