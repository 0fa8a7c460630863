// A transport that knows the simulator: the rule checker must refuse it.
#include "mp1boot/sim/usb_board.hpp"
