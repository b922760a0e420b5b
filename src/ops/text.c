/* text ops: placeholder table until the family is written. */
#include "op.h"

const op_def text_ops[] = {{"", "", 0, NULL, NULL, NULL, 0}};
const int text_ops_count = 0;
