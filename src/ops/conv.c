/* conv ops: placeholder table until the family is written. */
#include "op.h"

const op_def conv_ops[] = {{"", "", 0, NULL, NULL, NULL, 0}};
const int conv_ops_count = 0;
