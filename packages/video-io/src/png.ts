import { writeFileSync } from 'node:fs';
import { PNG } from 'pngjs';
import { VideoIOError } from './errors.js';

/**
 * Encodes one RGB image to PNG bytes.
 *
 * @param rgb shape [H, W, 3], uint8 RGB (a view into a larger tensor is fine)
 */
export function encodePng(rgb: Uint8Array, height: number, width: number): Buffer {
  if (!(Number.isInteger(height) && height > 0 && Number.isInteger(width) && width > 0)) {
    throw new VideoIOError(
      'E_ARGUMENT',
      `encodePng: height and width must be positive integers, got ${height}×${width}`,
    );
  }
  if (rgb.length !== height * width * 3) {
    throw new VideoIOError(
      'E_SHAPE',
      `encodePng: rgb has ${rgb.length} bytes but shape [${height}, ${width}, 3] needs ${height * width * 3}`,
    );
  }
  const png = new PNG({ width, height, colorType: 2, inputColorType: 2, inputHasAlpha: false });
  png.data = Buffer.from(rgb.buffer, rgb.byteOffset, rgb.length);
  return PNG.sync.write(png, { colorType: 2, inputColorType: 2, inputHasAlpha: false });
}

/** Writes one RGB image `[H, W, 3]` as a PNG file. */
export function writePng(path: string, rgb: Uint8Array, height: number, width: number): void {
  writeFileSync(path, encodePng(rgb, height, width));
}
