/* signal ops: placeholder table until the family is written. */
#include "op.h"

const op_def signal_ops[] = {{"", "", 0, NULL, NULL, NULL, 0}};
const int signal_ops_count = 0;
