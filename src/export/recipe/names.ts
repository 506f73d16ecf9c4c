/** The studio's "Continue on a cluster" download (its files sit in a folder of the same name). */
export const RECIPE_ZIP_NAME = 'lora-studio-cluster-job.zip';
