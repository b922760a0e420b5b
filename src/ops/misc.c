/* misc ops: placeholder table until the family is written. */
#include "op.h"

const op_def misc_ops[] = {{"", "", 0, NULL, NULL, NULL, 0}};
const int misc_ops_count = 0;
