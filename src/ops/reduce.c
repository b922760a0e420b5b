/* reduce ops: placeholder table until the family is written. */
#include "op.h"

const op_def reduce_ops[] = {{"", "", 0, NULL, NULL, NULL, 0}};
const int reduce_ops_count = 0;
