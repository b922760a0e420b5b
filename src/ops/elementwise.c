/* elementwise ops: placeholder table until the family is written. */
#include "op.h"

const op_def elementwise_ops[] = {{"", "", 0, NULL, NULL, NULL, 0}};
const int elementwise_ops_count = 0;
