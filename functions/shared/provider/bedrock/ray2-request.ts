/**
 * Luma AI Ray2 on Amazon Bedrock (`luma.ray-v2:0`): the request model StartAsyncInvoke takes as
 * `modelInput`, and how our protocol's `size` ("WxH") and `seconds` map onto it.
 *
 * Ray2 is text to video only here: prompt 1-5,000 characters, `aspect_ratio` one of seven ratios,
 * `resolution` 540p or 720p, `duration` "5s" or "9s", `loop` a boolean
 * (docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-luma.html, read 2026-11-30).
 */
import { VideoParamsError } from '../video-params-error.ts';

export const RAY2_MODEL_ID = 'luma.ray-v2:0';

export type Ray2AspectRatio = '1:1' | '16:9' | '9:16' | '4:3' | '3:4' | '21:9' | '9:21';
export type Ray2Resolution = '540p' | '720p';

export interface Ray2ModelInput {
  prompt: string;
  aspect_ratio: Ray2AspectRatio;
  resolution: Ray2Resolution;
  duration: '5s' | '9s';
  loop: boolean;
}

export const RAY2_PROMPT_MAX_LENGTH = 5000;

/** Frame sizes ("WxH") by resolution and aspect ratio: the short side is 540 or 720 pixels. */
export const RAY2_SIZES: Readonly<
  Record<string, { aspect_ratio: Ray2AspectRatio; resolution: Ray2Resolution }>
> = {
  '1280x720': { aspect_ratio: '16:9', resolution: '720p' },
  '720x1280': { aspect_ratio: '9:16', resolution: '720p' },
  '720x720': { aspect_ratio: '1:1', resolution: '720p' },
  '960x720': { aspect_ratio: '4:3', resolution: '720p' },
  '720x960': { aspect_ratio: '3:4', resolution: '720p' },
  '1680x720': { aspect_ratio: '21:9', resolution: '720p' },
  '720x1680': { aspect_ratio: '9:21', resolution: '720p' },
  '960x540': { aspect_ratio: '16:9', resolution: '540p' },
  '540x960': { aspect_ratio: '9:16', resolution: '540p' },
  '540x540': { aspect_ratio: '1:1', resolution: '540p' },
  '720x540': { aspect_ratio: '4:3', resolution: '540p' },
  '540x720': { aspect_ratio: '3:4', resolution: '540p' },
  '1260x540': { aspect_ratio: '21:9', resolution: '540p' },
  '540x1260': { aspect_ratio: '9:21', resolution: '540p' },
};

export const RAY2_SECONDS = ['5', '9'] as const;

export interface Ray2Params {
  prompt: string;
  size: string;
  seconds: string;
  loop?: boolean | undefined;
}

/**
 * Builds Ray2's `modelInput`, throwing VideoParamsError naming the first field Ray2 refuses.
 * Called when a job is submitted (nothing started yet) and again right before StartAsyncInvoke.
 */
export function ray2ModelInput(params: Ray2Params): Ray2ModelInput {
  const length = [...params.prompt].length;
  if (length < 1 || length > RAY2_PROMPT_MAX_LENGTH) {
    throw new VideoParamsError(
      'prompt',
      `prompt must be 1 to ${RAY2_PROMPT_MAX_LENGTH} characters for model "${RAY2_MODEL_ID}" (got ${length})`,
    );
  }
  const frame = Object.hasOwn(RAY2_SIZES, params.size) ? RAY2_SIZES[params.size] : undefined;
  if (!frame) {
    throw new VideoParamsError(
      'size',
      `size "${params.size}" is not a Ray2 frame size; allowed: ${Object.keys(RAY2_SIZES).join(', ')}`,
    );
  }
  if (!(RAY2_SECONDS as readonly string[]).includes(params.seconds)) {
    throw new VideoParamsError(
      'seconds',
      `seconds "${params.seconds}" is not a Ray2 duration; allowed: ${RAY2_SECONDS.join(', ')}`,
    );
  }
  return {
    prompt: params.prompt,
    aspect_ratio: frame.aspect_ratio,
    resolution: frame.resolution,
    duration: params.seconds === '9' ? '9s' : '5s',
    loop: params.loop ?? false,
  };
}

/** The size ("WxH") a Ray2 request renders at; undefined for a pair Ray2 does not offer. */
export function ray2Size(aspectRatio: string, resolution: string): string | undefined {
  return Object.entries(RAY2_SIZES).find(
    ([, frame]) => frame.aspect_ratio === aspectRatio && frame.resolution === resolution,
  )?.[0];
}
