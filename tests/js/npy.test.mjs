// Tests for tests/js/npy.mjs. The fixtures below are files written by numpy 1.24's np.save
// (base64), so the reader is checked against the real format without running Python here, and
// the writer is checked to reproduce numpy's bytes exactly.

import test from 'node:test';
import assert from 'node:assert/strict';
import { readNpy, writeNpy } from './npy.mjs';

const b64 = (s) => Buffer.from(s, 'base64');

const NUMPY_FILES = {
  // np.array([[0.5, -1.25, 3.0], [1e-3, -0.0, 65504.0]], dtype='<f4')
  f4: {
    file: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDMpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAA/AACgvwAAQEBvEoM6AAAAgADgf0c=',
    dtype: 'float32', shape: [2, 3], data: [0.5, -1.25, 3.0, Math.fround(1e-3), -0, 65504],
  },
  // np.array(-2.5): a 0-d float64 array
  f8: {
    file: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKCksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAAAEwA==',
    dtype: 'float64', shape: [], data: [-2.5],
  },
  // np.arange(-3, 3, dtype='<i4').reshape(2, 1, 3)
  i4: {
    file: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGk0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDEsIDMpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAr9/////v////////8AAAAAAQAAAAIAAAA=',
    dtype: 'int32', shape: [2, 1, 3], data: [-3, -2, -1, 0, 1, 2],
  },
  // np.array([-(2**62), -1, 0, 2**53 + 1], dtype='<i8'): the last is not a safe JS number
  i8: {
    file: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGk4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDQsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAAAAwP//////////AAAAAAAAAAABAAAAAAAgAA==',
    dtype: 'int64', shape: [4], data: [-(2n ** 62n), -1n, 0n, 2n ** 53n + 1n],
  },
  // np.array([0, 1, 254, 255], dtype='u1')
  u1: {
    file: 'k05VTVBZAQB2AHsnZGVzY3InOiAnfHUxJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDQsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAf7/',
    dtype: 'uint8', shape: [4], data: [0, 1, 254, 255],
  },
  // np.array([-128, -1, 127], dtype='i1')
  i1: {
    file: 'k05VTVBZAQB2AHsnZGVzY3InOiAnfGkxJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAqA/38=',
    dtype: 'int8', shape: [3], data: [-128, -1, 127],
  },
  // np.array([True, False, True])
  b1: {
    file: 'k05VTVBZAQB2AHsnZGVzY3InOiAnfGIxJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoBAAE=',
    dtype: 'bool', shape: [3], data: [1, 0, 1],
  },
};

for (const [name, fx] of Object.entries(NUMPY_FILES)) {
  test(`reads numpy's ${name} file`, () => {
    const a = readNpy(b64(fx.file));
    assert.equal(a.dtype, fx.dtype);
    assert.deepEqual(a.shape, fx.shape);
    assert.deepEqual(Array.from(a.data), fx.data);
  });

  test(`writes the same bytes as numpy for ${name}`, () => {
    const a = readNpy(b64(fx.file));
    assert.deepEqual(writeNpy(a.dtype, a.shape, a.data), b64(fx.file));
  });
}

test('reads format version 2.0', () => {
  // np.lib.format.write_array(f, np.array([1.5, 2.5], dtype='<f4'), version=(2, 0))
  const a = readNpy(b64('k05VTVBZAgB0AAAAeydkZXNjcic6ICc8ZjQnLCAnZm9ydHJhbl9vcmRlcic6IEZhbHNlLCAnc2hhcGUnOiAoMiwpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAMA/AAAgQA=='));
  assert.equal(a.dtype, 'float32');
  assert.deepEqual(a.shape, [2]);
  assert.deepEqual(Array.from(a.data), [1.5, 2.5]);
});

test('rejects what it cannot read correctly', () => {
  // np.asfortranarray(np.arange(6, dtype='<f4').reshape(2, 3))
  const fortran = 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBUcnVlLCAnc2hhcGUnOiAoMiwgMyksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAABAQAAAgD8AAIBAAAAAQAAAoEA=';
  assert.throws(() => readNpy(b64(fortran)), /fortran_order/);
  // np.arange(2, dtype='>i4')
  const big = 'k05VTVBZAQB2AHsnZGVzY3InOiAnPmk0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAAAAAQ==';
  assert.throws(() => readNpy(b64(big)), /big-endian/);
  assert.throws(() => readNpy(Buffer.from('not an npy file at all')), /magic/);
  const truncated = b64(NUMPY_FILES.f4.file).subarray(0, 140);
  assert.throws(() => readNpy(truncated), /data bytes/);
});

test('round-trips every supported dtype', () => {
  const cases = [
    ['float16', [2], new Uint16Array([0x3c00, 0xc100])],
    ['float32', [2, 2], new Float32Array([1, -2, 3.5, Number.NaN])],
    ['float64', [3], new Float64Array([Math.PI, -0, Infinity])],
    ['int8', [2], new Int8Array([-5, 7])],
    ['int16', [2], new Int16Array([-300, 300])],
    ['int32', [1, 3], new Int32Array([-(2 ** 31), 0, 2 ** 31 - 1])],
    ['int64', [2], new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n])],
    ['uint8', [2], new Uint8Array([0, 255])],
    ['uint16', [1], new Uint16Array([65535])],
    ['uint32', [1], new Uint32Array([2 ** 32 - 1])],
    ['uint64', [1], new BigUint64Array([2n ** 64n - 1n])],
    ['bool', [2, 1], new Uint8Array([0, 1])],
    ['float32', [0, 4], new Float32Array(0)],
    ['float32', [], new Float32Array([42])],
  ];
  for (const [dtype, shape, data] of cases) {
    const buf = writeNpy(dtype, shape, data);
    assert.equal(buf.length % 64, data.byteLength % 64, `${dtype}: header is not 64-byte aligned`);
    const back = readNpy(buf);
    assert.equal(back.dtype, dtype);
    assert.deepEqual(back.shape, shape);
    assert.equal(back.data.constructor, data.constructor);
    assert.deepEqual(Array.from(back.data), Array.from(data));
  }
});

test('reads from an unaligned view and returns an independent copy', () => {
  const file = writeNpy('float64', [2], new Float64Array([1.25, -8]));
  const shifted = new Uint8Array(file.length + 3);
  shifted.set(file, 3);
  const a = readNpy(shifted.subarray(3));
  assert.deepEqual(Array.from(a.data), [1.25, -8]);
  shifted.fill(0);
  assert.deepEqual(Array.from(a.data), [1.25, -8]);
});

test('writeNpy accepts numpy descr strings and plain arrays, and checks sizes', () => {
  assert.deepEqual(writeNpy('<f4', [2], [1, 2]), writeNpy('float32', [2], new Float32Array([1, 2])));
  assert.deepEqual(readNpy(writeNpy('int64', [2], [3, -4])).data, new BigInt64Array([3n, -4n]));
  assert.throws(() => writeNpy('float32', [3], new Float32Array(2)), /needs 3 elements/);
  assert.throws(() => writeNpy('complex64', [1], [0]), /unsupported dtype/);
});
