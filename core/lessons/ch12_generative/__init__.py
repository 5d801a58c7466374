"""Chapter 12 — generative models, one module per section:

- ``gan2d``: a GAN on 2-D points (GAN Lab style), WGAN-GP, mode collapse, divergence guard;
- ``dcgan``: a DCGAN on the 5,000 real MNIST digits, fixed-noise grid, latent interpolation;
- ``vae``: a VAE on the same digits, β, 2-D latent map, interpolation;
- ``diffusion``: diffusers' ``UNet2DModel`` + ``DDPMScheduler`` / ``DDIMScheduler`` on digits, and a 2-D toy diffusion;
- ``evaluation``: the gallery's own digit classifier as the judge (confidence, coverage, Fréchet distance);
- ``compare``: GAN vs VAE vs DDPM on the same data.
"""
