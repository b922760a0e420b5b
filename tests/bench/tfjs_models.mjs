// The benchmark architectures written with TF.js ops (NHWC, random weights), the same layers as
// the ONNX files of tests/bench/export_bench_models.py and models/digits: convolutions with bias
// and a fused activation (tf.fused.*, which the wasm backend hands to XNNPACK), depthwise
// convolutions, matMul. BatchNormalization is folded into the convolutions, as runtimes do with
// the ONNX files. Each op wrapper counts its multiply-accumulates from the shapes it sees, so
// the bench can check that both sides do the same arithmetic.
//
//   const m = buildTfjsModel(tf, 'resnet18');  // or null: not expressed here
//   const y = m.run();                           // one inference on m.input (a tidy scope)
//   m.macs                                       // counted on the first run
//   m.dispose()

const IMAGE = [1, 224, 224, 3];

class Builder {
  constructor(tf) {
    this.tf = tf;
    this.weights = [];
    this.macs = 0;
    this.counting = true;
  }

  // Weights are made once, on the first run, and reused by the later ones (in call order).
  param(shape, fanIn) {
    const i = this.cursor++;
    if (i === this.weights.length) {
      this.weights.push(this.tf.keep(this.tf.randomNormal(shape, 0, Math.sqrt(2 / fanIn), 'float32', 7 + i)));
    }
    return this.weights[i];
  }

  count(outShape, perOutput) {
    if (this.counting) this.macs += outShape.reduce((a, b) => a * b, 1) * perOutput;
  }

  conv(x, cout, k, stride = 1, act = 'linear', pad = 'same') {
    const cin = x.shape[3];
    const w = this.param([k, k, cin, cout], k * k * cin);
    const b = this.param([cout], cout);
    const y = this.tf.fused.conv2d({ x, filter: w, bias: b, strides: stride, pad, activation: act });
    this.count(y.shape, k * k * cin);
    return y;
  }

  dwconv(x, k, stride = 1, act = 'linear') {
    const c = x.shape[3];
    const w = this.param([k, k, c, 1], k * k);
    const b = this.param([c], c);
    const y = this.tf.fused.depthwiseConv2d({ x, filter: w, bias: b, strides: stride, pad: 'same', activation: act });
    this.count(y.shape, k * k);
    return y;
  }

  dense(x, n, act = 'linear') {
    const k = x.shape[x.shape.length - 1];
    const w = this.param([k, n], k);
    const b = this.param([n], n);
    const y = this.tf.fused.matMul({ a: x, b: w, bias: b, activation: act });
    this.count(y.shape, k);
    return y;
  }

  matMul(a, b, transposeB = false) {
    const y = this.tf.matMul(a, b, false, transposeB);
    this.count(y.shape, a.shape[a.shape.length - 1]);
    return y;
  }

  silu(x) {
    return this.tf.mul(x, this.tf.sigmoid(x));
  }

  globalPool(x) {
    return this.tf.mean(x, [1, 2]);
  }
}

// ---- architectures ----

function mobilenetV2(m, x) {
  const tf = m.tf;
  x = m.conv(x, 32, 3, 2, 'relu6');
  const settings = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]];
  for (const [t, c, n, s] of settings) {
    for (let i = 0; i < n; i++) {
      const stride = i === 0 ? s : 1;
      const cin = x.shape[3];
      let y = t === 1 ? x : m.conv(x, cin * t, 1, 1, 'relu6');
      y = m.dwconv(y, 3, stride, 'relu6');
      y = m.conv(y, c, 1);
      x = stride === 1 && cin === c ? tf.add(x, y) : y;
    }
  }
  x = m.conv(x, 1280, 1, 1, 'relu6');
  return m.dense(m.globalPool(x), 1000);
}

function resnet18(m, x) {
  const tf = m.tf;
  x = m.conv(x, 64, 7, 2, 'relu');
  x = tf.maxPool(x, 3, 2, 'same');
  for (const [c, s] of [[64, 1], [128, 2], [256, 2], [512, 2]]) {
    for (let i = 0; i < 2; i++) {
      const stride = i === 0 ? s : 1;
      const skip = stride !== 1 || x.shape[3] !== c ? m.conv(x, c, 1, stride) : x;
      const y = m.conv(m.conv(x, c, 3, stride, 'relu'), c, 3);
      x = tf.relu(tf.add(y, skip));
    }
  }
  return m.dense(m.globalPool(x), 1000);
}

function squeezenet11(m, x) {
  const tf = m.tf;
  const fire = (v, s, e) => {
    const sq = m.conv(v, s, 1, 1, 'relu');
    return tf.concat([m.conv(sq, e, 1, 1, 'relu'), m.conv(sq, e, 3, 1, 'relu')], 3);
  };
  x = m.conv(x, 64, 3, 2, 'relu', 'valid');
  x = tf.maxPool(x, 3, 2, 'valid'); // ceil mode in torch; the same sizes here (111 -> 55 -> 27 -> 13)
  x = fire(fire(x, 16, 64), 16, 64);
  x = tf.maxPool(x, 3, 2, 'valid');
  x = fire(fire(x, 32, 128), 32, 128);
  x = tf.maxPool(x, 3, 2, 'valid');
  x = fire(fire(fire(fire(x, 48, 192), 48, 192), 64, 256), 64, 256);
  return m.globalPool(m.conv(x, 1000, 1, 1, 'relu'));
}

function shufflenetV2(m, x) {
  const tf = m.tf;
  const shuffle = (v) => {
    const [n, h, w, c] = v.shape;
    return tf.reshape(tf.transpose(tf.reshape(v, [n, h, w, 2, c / 2]), [0, 1, 2, 4, 3]), [n, h, w, c]);
  };
  const branch = (v, c, stride) => m.conv(m.dwconv(m.conv(v, c, 1, 1, 'relu'), 3, stride), c, 1, 1, 'relu');
  x = m.conv(x, 24, 3, 2, 'relu');
  x = tf.maxPool(x, 3, 2, 'same');
  for (const [out, repeats] of [[116, 4], [232, 8], [464, 4]]) {
    const half = out / 2;
    x = shuffle(tf.concat([m.conv(m.dwconv(x, 3, 2), half, 1, 1, 'relu'), branch(x, half, 2)], 3));
    for (let i = 1; i < repeats; i++) {
      const [a, b] = tf.split(x, 2, 3);
      x = shuffle(tf.concat([a, branch(b, half, 1)], 3));
    }
  }
  x = m.conv(x, 1024, 1, 1, 'relu');
  return m.dense(m.globalPool(x), 1000);
}

function efficientnetB0(m, x) {
  const tf = m.tf;
  x = m.silu(m.conv(x, 32, 3, 2));
  const stages = [[1, 3, 1, 16, 1], [6, 3, 2, 24, 2], [6, 5, 2, 40, 2], [6, 3, 2, 80, 3], [6, 5, 1, 112, 3],
    [6, 5, 2, 192, 4], [6, 3, 1, 320, 1]];
  for (const [t, k, s, c, n] of stages) {
    for (let i = 0; i < n; i++) {
      const stride = i === 0 ? s : 1;
      const cin = x.shape[3];
      let y = t === 1 ? x : m.silu(m.conv(x, cin * t, 1));
      y = m.silu(m.dwconv(y, k, stride));
      const se = m.conv(m.silu(m.conv(tf.mean(y, [1, 2], true), Math.max(1, cin >> 2), 1)), y.shape[3], 1);
      y = m.conv(tf.mul(y, tf.sigmoid(se)), c, 1);
      x = stride === 1 && cin === c ? tf.add(x, y) : y;
    }
  }
  x = m.silu(m.conv(x, 1280, 1));
  return m.dense(m.globalPool(x), 1000);
}

function mlp(m, x) {
  return m.dense(m.dense(m.dense(x, 128, 'relu'), 64, 'relu'), 10);
}

function digits(m, x) {
  const tf = m.tf;
  x = m.conv(m.conv(x, 16, 3, 1, 'relu'), 32, 3, 1, 'relu');
  x = tf.reshape(tf.maxPool(x, 2, 2, 'valid'), [x.shape[0], -1]);
  return tf.softmax(m.dense(m.dense(x, 64, 'relu'), 10));
}

function transformer(m, x) {
  const tf = m.tf;
  const [seq, d] = x.shape;
  const heads = 4;
  const hd = d / heads;
  const layerNorm = (v) => {
    const g = m.param([d], 1);
    const { mean, variance } = tf.moments(v, -1, true);
    return tf.add(tf.mul(tf.mul(tf.sub(v, mean), tf.rsqrt(tf.add(variance, 1e-5))), g), m.param([d], 1));
  };
  for (let l = 0; l < 2; l++) {
    const qkv = tf.transpose(tf.reshape(m.dense(layerNorm(x), 3 * d), [seq, 3, heads, hd]), [1, 2, 0, 3]);
    const [q, k, v] = tf.unstack(qkv, 0); // each [heads, seq, hd]
    const att = tf.softmax(tf.mul(m.matMul(q, k, true), 1 / Math.sqrt(hd)));
    const y = tf.reshape(tf.transpose(m.matMul(att, v), [1, 0, 2]), [seq, d]);
    x = tf.add(x, m.dense(y, d));
    const h = m.dense(layerNorm(x), 4 * d);
    const gelu = tf.mul(tf.mul(h, 0.5), tf.add(tf.erf(tf.mul(h, Math.SQRT1_2)), 1));
    x = tf.add(x, m.dense(gelu, d));
  }
  return layerNorm(x);
}

export const TFJS_MODELS = {
  mobilenet_v2: [mobilenetV2, IMAGE],
  resnet18: [resnet18, IMAGE],
  squeezenet1_1: [squeezenet11, IMAGE],
  shufflenet_v2_x1_0: [shufflenetV2, IMAGE],
  efficientnet_b0: [efficientnetB0, IMAGE],
  mlp_b1: [mlp, [1, 64]],
  mlp_b256: [mlp, [256, 64]],
  digits: [digits, [1, 8, 8, 1]],
  transformer: [transformer, [64, 128]],
};

/** Builds `name` on TF.js (its backend already set), or returns null when it is not written here. */
export function buildTfjsModel(tf, name) {
  const entry = TFJS_MODELS[name];
  if (!entry) return null;
  const [forward, shape] = entry;
  const m = new Builder(tf);
  const input = tf.keep(tf.randomNormal(shape, 0, 1, 'float32', 1));
  const model = {
    input,
    macs: 0,
    run() {
      m.cursor = 0;
      const y = tf.tidy(() => forward(m, input));
      if (m.counting) {
        m.counting = false;
        model.macs = m.macs;
      }
      return y;
    },
    dispose() {
      tf.dispose([input, ...m.weights]);
    },
  };
  return model;
}
