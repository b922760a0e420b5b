/* gather ops: placeholder table until the family is written. */
#include "op.h"

const op_def gather_ops[] = {{"", "", 0, NULL, NULL, NULL, 0}};
const int gather_ops_count = 0;
