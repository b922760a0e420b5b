"""A tiny BERT-style encoder as transformers.js loads it from a local folder.

    python3 tests/package/tiny_bert.py OUTDIR

writes OUTDIR/tiny-bert/: config.json, tokenizer.json (a small WordPiece vocabulary),
tokenizer_config.json, onnx/model.onnx (torch export, random weights from a fixed seed) and
onnx/model_quantized.onnx, quantised the way onnxruntime's quantize_dynamic does it: each MatMul
by a constant weight becomes DynamicQuantizeLinear on the activation (uint8, asymmetric), a
MatMulInteger with the int8 weight (symmetric, per tensor), a Cast of the int32 result and a Mul
by the product of both scales. The quantiser is written here with the onnx helper API.
"""

import json
import os
import sys
import warnings

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper, TensorProto

HIDDEN, HEADS, LAYERS, FFN, MAX_POS = 32, 4, 2, 64, 64

WORDS = """the a an of to and in is it that was for on are as with his they at be this from have or by
one had not but what all were when we there can your which their said if do will each about how up
out them then she many some so these would other into has more her two like him see time could no
make than first been its who now people my made over did down only way find use may water long little
very after words called just where most know get through back much before go good new write our used
me man too any day same right look think also around another came come work three word must because
does part even place well such here take why things help put years different away again off went old
number great tell men say small every found still between name should home big give air line set own
under read last never us left end along while might next sound below saw something thought both few
those always looked show large often together asked house don world going want school important until
form food keep children feet land side without boy once animals life enough took sometimes four head
above kind began almost live page got earth need far hand high year mother light parts country father
let night following picture being study second eyes soon times story boys since white days ever paper
hard near sentence better best across during today others however sure means knew try told young
miles sun ways thing whole hear example heard several change answer room sea against top turned
learn point city play toward five using himself usually model models run running runs fast small
quick brown fox jumps lazy dog edge device browser page offline""".split()
PIECES = ['##s', '##ed', '##ing', '##er', '##ly', '##est', '##e', '##a', '##o', '##i', '##n', '##t', '##r', '##l']
LETTERS = list('abcdefghijklmnopqrstuvwxyz0123456789') + ['##' + c for c in 'abcdefghijklmnopqrstuvwxyz0123456789']
PUNCT = list('.,!?;:\'"()-')
SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']


def vocabulary():
    vocab = {}
    for tok in SPECIALS + PUNCT + LETTERS + PIECES + WORDS:
        vocab.setdefault(tok, len(vocab))
    return vocab


class Layer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv = torch.nn.Linear(HIDDEN, 3 * HIDDEN)
        self.out = torch.nn.Linear(HIDDEN, HIDDEN)
        self.ln1 = torch.nn.LayerNorm(HIDDEN, eps=1e-12)
        self.up = torch.nn.Linear(HIDDEN, FFN)
        self.down = torch.nn.Linear(FFN, HIDDEN)
        self.ln2 = torch.nn.LayerNorm(HIDDEN, eps=1e-12)

    def forward(self, h, bias):
        b, s, _ = h.shape
        q, k, v = self.qkv(h).view(b, s, 3, HEADS, HIDDEN // HEADS).permute(2, 0, 3, 1, 4)
        att = torch.softmax(q @ k.transpose(-1, -2) / (HIDDEN // HEADS) ** 0.5 + bias, dim=-1)
        ctx = (att @ v).transpose(1, 2).reshape(b, s, HIDDEN)
        h = self.ln1(h + self.out(ctx))
        return self.ln2(h + self.down(torch.nn.functional.gelu(self.up(h))))


class Encoder(torch.nn.Module):
    def __init__(self, vocab_size):
        super().__init__()
        self.words = torch.nn.Embedding(vocab_size, HIDDEN)
        self.positions = torch.nn.Embedding(MAX_POS, HIDDEN)
        self.types = torch.nn.Embedding(2, HIDDEN)
        self.ln = torch.nn.LayerNorm(HIDDEN, eps=1e-12)
        self.layers = torch.nn.ModuleList([Layer() for _ in range(LAYERS)])

    def forward(self, input_ids, attention_mask, token_type_ids):
        pos = torch.arange(input_ids.shape[1]).unsqueeze(0)
        h = self.ln(self.words(input_ids) + self.positions(pos) + self.types(token_type_ids))
        bias = (1.0 - attention_mask[:, None, None, :].float()) * -10000.0
        for layer in self.layers:
            h = layer(h, bias)
        return h


def tokenizer_json(vocab):
    special = lambda tok: {'id': vocab[tok], 'content': tok, 'single_word': False, 'lstrip': False, 'rstrip': False,
                           'normalized': False, 'special': True}
    cls = {'SpecialToken': {'id': '[CLS]', 'type_id': 0}}
    sep = lambda t: {'SpecialToken': {'id': '[SEP]', 'type_id': t}}
    seq = lambda n, t: {'Sequence': {'id': n, 'type_id': t}}
    return {
        'version': '1.0', 'truncation': None, 'padding': None,
        'added_tokens': [special(t) for t in SPECIALS],
        'normalizer': {'type': 'BertNormalizer', 'clean_text': True, 'handle_chinese_chars': True,
                       'strip_accents': None, 'lowercase': True},
        'pre_tokenizer': {'type': 'BertPreTokenizer'},
        'post_processor': {
            'type': 'TemplateProcessing',
            'single': [cls, seq('A', 0), sep(0)],
            'pair': [cls, seq('A', 0), sep(0), seq('B', 1), sep(1)],
            'special_tokens': {t: {'id': t, 'ids': [vocab[t]], 'tokens': [t]} for t in ['[CLS]', '[SEP]']},
        },
        'decoder': {'type': 'WordPiece', 'prefix': '##', 'cleanup': True},
        'model': {'type': 'WordPiece', 'unk_token': '[UNK]', 'continuing_subword_prefix': '##',
                  'max_input_chars_per_word': 100, 'vocab': vocab},
    }


def quantize_dynamic(model):
    """MatMul(X, W) with W a 2-D float initializer -> DynamicQuantizeLinear + MatMulInteger, as
    onnxruntime.quantization.quantize_dynamic writes it (int8 symmetric weights, per tensor)."""
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    nodes = []
    for node in g.node:
        w = inits.get(node.input[1]) if node.op_type == 'MatMul' else None
        if w is None or len(w.dims) != 2:
            nodes.append(node)
            continue
        x, y, n = node.input[0], node.output[0], node.name or y
        wf = numpy_helper.to_array(w)
        w_scale = np.float32(max(np.abs(wf).max(), 1e-8) / 127.0)
        wq = np.clip(np.rint(wf / w_scale), -127, 127).astype(np.int8)
        g.initializer.extend([numpy_helper.from_array(wq, w.name + '_quantized'),
                              numpy_helper.from_array(np.array(w_scale, np.float32), w.name + '_scale'),
                              numpy_helper.from_array(np.array(0, np.int8), w.name + '_zero_point')])
        nodes += [
            helper.make_node('DynamicQuantizeLinear', [x], [x + '_quantized', x + '_scale', x + '_zero_point'],
                             name=n + '_QuantizeLinear'),
            helper.make_node('MatMulInteger', [x + '_quantized', w.name + '_quantized', x + '_zero_point', w.name + '_zero_point'],
                             [y + '_output_quantized'], name=n + '_MatMulInteger'),
            helper.make_node('Cast', [y + '_output_quantized'], [y + '_output_quantized_cast'], to=TensorProto.FLOAT,
                             name=n + '_output_quantized_cast'),
            helper.make_node('Mul', [x + '_scale', w.name + '_scale'], [y + '_scales_mul'], name=n + '_scales_mul'),
            helper.make_node('Mul', [y + '_output_quantized_cast', y + '_scales_mul'], [y], name=n + '_output_scale_mul'),
        ]
    used = {i for nd in nodes for i in nd.input}
    keep = [t for t in g.initializer if t.name in used]
    del g.node[:]
    g.node.extend(nodes)
    del g.initializer[:]
    g.initializer.extend(keep)
    model.opset_import.append(helper.make_opsetid('com.microsoft', 1))
    onnx.checker.check_model(model)
    return model


def main():
    out = os.path.join(sys.argv[1], 'tiny-bert')
    os.makedirs(os.path.join(out, 'onnx'), exist_ok=True)
    warnings.filterwarnings('ignore', category=torch.jit.TracerWarning)  # the export traces fixed-size loops on purpose
    torch.manual_seed(20261207)
    vocab = vocabulary()
    model = Encoder(len(vocab)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(2.0)  # livelier activations than the default init, so rounding differences would show
    ids = torch.tensor([[2, 40, 41, 3], [2, 42, 3, 0]])
    path = os.path.join(out, 'onnx', 'model.onnx')
    torch.onnx.export(model, (ids, (ids > 0).long(), torch.zeros_like(ids)), path, opset_version=14,
                      input_names=['input_ids', 'attention_mask', 'token_type_ids'], output_names=['last_hidden_state'],
                      dynamic_axes={n: {0: 'batch_size', 1: 'sequence_length'}
                                    for n in ['input_ids', 'attention_mask', 'token_type_ids', 'last_hidden_state']})
    fp32 = onnx.load(path)
    onnx.save(quantize_dynamic(onnx.load(path)), os.path.join(out, 'onnx', 'model_quantized.onnx'))
    config = {'model_type': 'bert', 'architectures': ['BertModel'], 'hidden_size': HIDDEN, 'num_attention_heads': HEADS,
              'num_hidden_layers': LAYERS, 'intermediate_size': FFN, 'vocab_size': len(vocab),
              'max_position_embeddings': MAX_POS, 'type_vocab_size': 2, 'pad_token_id': 0, 'layer_norm_eps': 1e-12,
              'hidden_act': 'gelu'}
    tok_config = {'tokenizer_class': 'BertTokenizer', 'do_lower_case': True, 'model_max_length': MAX_POS,
                  'cls_token': '[CLS]', 'sep_token': '[SEP]', 'pad_token': '[PAD]', 'unk_token': '[UNK]',
                  'mask_token': '[MASK]', 'clean_up_tokenization_spaces': True}
    for name, obj in [('config.json', config), ('tokenizer.json', tokenizer_json(vocab)),
                      ('tokenizer_config.json', tok_config)]:
        with open(os.path.join(out, name), 'w') as f:
            json.dump(obj, f, indent=1)
    print(f'tiny_bert: {len(vocab)} tokens, {len(fp32.graph.node)} nodes, written to {out}')


if __name__ == '__main__':
    main()
