"""The GAN init: VGG19 features decoded from the brain, an image from them by iCNN, Stable Diffusion from that image.

The released code's second decoded input (its technical report, after Shen et al. 2019): ``networks`` loads VGG19
and the relu7 generator as bdpy defines them; ``vgg19`` computes the stimuli's features with the released
preprocessing; ``icnn`` optimises the generator's input so that its image has the decoded features.
"""
