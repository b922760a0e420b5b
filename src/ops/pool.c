/* pool ops: placeholder table until the family is written. */
#include "op.h"

const op_def pool_ops[] = {{"", "", 0, NULL, NULL, NULL, 0}};
const int pool_ops_count = 0;
