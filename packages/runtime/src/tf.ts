/**
 * The tfjs-core namespace every vqlm ML package uses. Importing tfjs through
 * this one module keeps a single tfjs engine (and its backend registry) per
 * process, whichever package asks for it.
 */
export * as tf from '@tensorflow/tfjs-core';
