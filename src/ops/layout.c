/* layout ops: placeholder table until the family is written. */
#include "op.h"

const op_def layout_ops[] = {{"", "", 0, NULL, NULL, NULL, 0}};
const int layout_ops_count = 0;
