// Library entry: typed exports of every part (face analysis, data, model, diffusion, pipeline).
export {};
