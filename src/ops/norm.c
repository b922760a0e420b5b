/* norm ops: placeholder table until the family is written. */
#include "op.h"

const op_def norm_ops[] = {{"", "", 0, NULL, NULL, NULL, 0}};
const int norm_ops_count = 0;
