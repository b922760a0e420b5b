/* vision ops: placeholder table until the family is written. */
#include "op.h"

const op_def vision_ops[] = {{"", "", 0, NULL, NULL, NULL, 0}};
const int vision_ops_count = 0;
