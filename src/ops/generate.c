/* generate ops: placeholder table until the family is written. */
#include "op.h"

const op_def generate_ops[] = {{"", "", 0, NULL, NULL, NULL, 0}};
const int generate_ops_count = 0;
