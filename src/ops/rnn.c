/* rnn ops: placeholder table until the family is written. */
#include "op.h"

const op_def rnn_ops[] = {{"", "", 0, NULL, NULL, NULL, 0}};
const int rnn_ops_count = 0;
