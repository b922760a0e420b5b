/* resize ops: placeholder table until the family is written. */
#include "op.h"

const op_def resize_ops[] = {{"", "", 0, NULL, NULL, NULL, 0}};
const int resize_ops_count = 0;
