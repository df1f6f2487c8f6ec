// Benign: a Mandelbrot renderer that keeps every core busy with Blob workers (heavy CPU, no mining).
var workerSource = "self.onmessage = function (e) {\n" +
  "  var d = e.data, out = new Uint8ClampedArray(d.w * d.rows * 4);\n" +
  "  for (var y = 0; y < d.rows; y++) for (var x = 0; x < d.w; x++) {\n" +
  "    var cr = d.x0 + x * d.step, ci = d.y0 + (d.row0 + y) * d.step, zr = 0, zi = 0, n = 0;\n" +
  "    while (zr * zr + zi * zi < 4 && n < d.maxIter) { var t = zr * zr - zi * zi + cr; zi = 2 * zr * zi + ci; zr = t; n++; }\n" +
  "    var o = (y * d.w + x) * 4; out[o] = n % 256; out[o + 1] = (n * 7) % 256; out[o + 2] = (n * 13) % 256; out[o + 3] = 255;\n" +
  "  }\n" +
  "  self.postMessage({ row0: d.row0, pixels: out }, [out.buffer]);\n" +
  "};";
var url = URL.createObjectURL(new Blob([workerSource], { type: "text/javascript" }));
var canvas = document.getElementById("view"), ctx = canvas.getContext("2d");
var cores = navigator.hardwareConcurrency || 4, band = Math.ceil(canvas.height / cores);
for (var i = 0; i < cores; i++) {
  var w = new Worker(url);
  w.onmessage = function (e) {
    var img = new ImageData(e.data.pixels, canvas.width);
    ctx.putImageData(img, 0, e.data.row0);
  };
  w.postMessage({ w: canvas.width, rows: band, row0: i * band, x0: -2.5, y0: -1.25, step: 3.5 / canvas.width, maxIter: 1000 });
}
