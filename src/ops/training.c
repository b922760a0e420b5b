/* training ops: placeholder table until the family is written. */
#include "op.h"

const op_def training_ops[] = {{"", "", 0, NULL, NULL, NULL, 0}};
const int training_ops_count = 0;
