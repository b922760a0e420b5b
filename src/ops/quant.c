/* quant ops: placeholder table until the family is written. */
#include "op.h"

const op_def quant_ops[] = {{"", "", 0, NULL, NULL, NULL, 0}};
const int quant_ops_count = 0;
