/* The models' weights in the page: a .safetensors reader that trusts nothing, like
 * mnist_demo/weights.py. Pure functions: `MnistWeights` in the browser, `require` under Node.
 */
(function (root, factory) {
  const api = factory();
  if (typeof module === "object" && module.exports) module.exports = api;
  else root.MnistWeights = api;
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  class WeightsError extends Error {}

  function base64ToBytes(text) {
    if (typeof Buffer !== "undefined") return new Uint8Array(Buffer.from(text, "base64"));
    const bin = atob(text);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  /** A .safetensors file (8-byte little-endian header length, JSON header, raw little-endian
   * data), checked like mnist_demo/weights.py: exactly the expected tensors, float32, the
   * expected shapes, offsets inside the file, finite values. `maxBytes` is weights.py's
   * MAX_BYTES, sent by the server (setup.max_weights_bytes). Returns {metadata, tensors}. */
  function parseSafetensors(bytes, expectedShapes, maxBytes) {
    if (!Number.isSafeInteger(maxBytes)) throw new TypeError("parseSafetensors needs the size limit (maxBytes)");
    if (!(bytes instanceof Uint8Array)) throw new WeightsError("weights must be bytes");
    if (bytes.length > maxBytes) throw new WeightsError(`${bytes.length} bytes; the demo's weights are under ${maxBytes}`);
    if (bytes.length < 8) throw new WeightsError("too short to be a safetensors file");
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const headerLength = view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32;
    if (headerLength > bytes.length - 8) {
      throw new WeightsError(`header claims ${headerLength} bytes, file has ${bytes.length - 8}`);
    }
    let header;
    try {
      header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)));
    } catch (e) {
      throw new WeightsError(`header is not valid JSON (${e.message})`);
    }
    if (header === null || typeof header !== "object" || Array.isArray(header)) throw new WeightsError("header is not a JSON object");
    const metadata = header.__metadata__ && typeof header.__metadata__ === "object" ? header.__metadata__ : {};
    const names = Object.keys(header).filter((k) => k !== "__metadata__").sort();
    const expected = Object.keys(expectedShapes).sort();
    if (names.join(",") !== expected.join(",")) {
      throw new WeightsError(`wrong tensors: found [${names}], expected [${expected}]`);
    }
    const dataStart = 8 + headerLength;
    const tensors = {};
    for (const name of names) {
      const { dtype, shape, data_offsets: offsets } = header[name];
      if (dtype !== "F32") throw new WeightsError(`${name} is ${dtype}, expected F32`);
      if (!Array.isArray(shape) || shape.join(",") !== expectedShapes[name].join(",")) {
        throw new WeightsError(`${name} has shape [${shape}], expected [${expectedShapes[name]}]`);
      }
      const count = shape.reduce((a, b) => a * b, 1);
      if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(Number.isSafeInteger)
          || offsets[1] - offsets[0] !== 4 * count || offsets[0] < 0 || dataStart + offsets[1] > bytes.length) {
        throw new WeightsError(`${name} has bad data offsets [${offsets}]`);
      }
      const values = new Float32Array(count);
      for (let i = 0; i < count; i++) {
        values[i] = view.getFloat32(dataStart + offsets[0] + 4 * i, true);
        if (!Number.isFinite(values[i])) throw new WeightsError(`${name} holds NaN or infinite values`);
      }
      tensors[name] = values;
    }
    return { metadata, tensors };
  }

  /** One model from its safetensors bytes. `shapes` is the tensors' expected shapes (from the
   * server, which reads them off the PyTorch models), `maxBytes` the file's size limit. The
   * metadata must name this model. */
  function loadModel(name, bytes, shapes, maxBytes) {
    const { metadata, tensors } = parseSafetensors(bytes, shapes, maxBytes);
    if (metadata.model !== name) throw new WeightsError(`the file holds the ${metadata.model} model, expected ${name}`);
    const finalRelu = metadata.final_relu === undefined ? "true" : metadata.final_relu;
    if (finalRelu !== "true" && finalRelu !== "false") throw new WeightsError(`final_relu is ${finalRelu}, expected true/false`);
    return { name, tensors, finalRelu: finalRelu === "true" };
  }

  /** A model's tensors as a .safetensors file, as mnist_demo/weights.py writes one and its
   * load_weights reads it: `tensors` {name: Float32Array}, `shapes` {name: [dims]} (setup.shapes),
   * `metadata` text values (it must name the model: {model, final_relu, ...}). The header is padded
   * with spaces to a multiple of 8 bytes, as the safetensors library pads it. */
  function toSafetensors(tensors, shapes, metadata) {
    const names = Object.keys(tensors).sort();
    const header = { __metadata__: Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, String(v)])) };
    let offset = 0;
    for (const name of names) {
      header[name] = { dtype: "F32", shape: shapes[name], data_offsets: [offset, offset + 4 * tensors[name].length] };
      offset += 4 * tensors[name].length;
    }
    let json = new TextEncoder().encode(JSON.stringify(header));
    const padded = Math.ceil(json.length / 8) * 8;
    if (padded !== json.length) json = new TextEncoder().encode(JSON.stringify(header) + " ".repeat(padded - json.length));
    const bytes = new Uint8Array(8 + json.length + offset), view = new DataView(bytes.buffer);
    view.setUint32(0, json.length, true); // the header's length, 64-bit little-endian (its high half is 0)
    bytes.set(json, 8);
    let at = 8 + json.length;
    for (const name of names) {
      for (const v of tensors[name]) { view.setFloat32(at, v, true); at += 4; }
    }
    return bytes;
  }

  return { WeightsError, base64ToBytes, parseSafetensors, loadModel, toSafetensors };
});
