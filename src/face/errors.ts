// Typed errors of face analysis; each names the input so a batch job can say which file failed.

export class FaceInputError extends Error {
  constructor(readonly input: string, message: string, readonly code: string) {
    super(`${input}: ${message}`);
    this.name = 'FaceInputError';
  }
}

/** The image could not be decoded (not an image, corrupt, unsupported format). */
export class ImageDecodeError extends FaceInputError {
  constructor(input: string, detail: string) { super(input, `cannot read image (${detail})`, 'image_decode'); }
}

/** More pixels than the configured limit (decompression-bomb guard). */
export class ImageTooLargeError extends FaceInputError {
  constructor(input: string, pixels: number, limit: number) {
    super(input, `image has ${pixels} pixels, over the limit of ${limit}`, 'image_too_large');
  }
}

/** Smaller than the smallest side we can find a face in. */
export class ImageTooSmallError extends FaceInputError {
  constructor(input: string, width: number, height: number, min: number) {
    super(input, `image is ${width}x${height}, smaller than ${min}px on a side`, 'image_too_small');
  }
}

export class NoFaceError extends FaceInputError {
  constructor(input: string) { super(input, 'no face found', 'no_face'); }
}

export class FaceIndexError extends FaceInputError {
  constructor(input: string, index: number, count: number) {
    super(input, `face index ${index} requested but ${count} face(s) found`, 'face_index');
  }
}
