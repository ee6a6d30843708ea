/**
 * Where Bedrock writes its outputs, inside the videos bucket: a prefix of its own, so IAM can
 * scope Bedrock's write (and the download's read and delete) to it, and a lifecycle rule can
 * expire what is left there (an orphan's output, a copy whose delete failed). Each job writes
 * under `<prefix><job id>/`.
 */
export const BEDROCK_OUTPUT_PREFIX = 'bedrock-output/';

/** Days after which anything still under the prefix expires (a stored video was moved out). */
export const BEDROCK_OUTPUT_EXPIRY_DAYS = 7;
