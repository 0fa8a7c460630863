// A file that breaks the include rules: the rule checker must find every line below.
#include <thread>
#include "mp1boot/transport/usb_port.hpp"
void wait() { std::this_thread::sleep_for(std::chrono::milliseconds(1)); }
