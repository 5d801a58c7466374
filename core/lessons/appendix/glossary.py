"""Appendix E — the bilingual glossary: English ↔ 中文, each term linked to the section that uses it.

The terms themselves are the bilingual data (one row, both languages), so the two columns cannot
drift apart. ``link(term)`` gives the chapter page's URL from ``core.catalog`` and the section
number; a chapter not built yet has no URL (the page shows the section as plain text).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from core.catalog import BY_ID as CHAPTERS_BY_ID


@dataclass(frozen=True)
class Term:
    en: str
    zh: str
    chapter: str      # catalog id
    section: str      # section number as the page numbers it ("1.4", "9.1–9.2")


_ROWS = """
tensor|张量|ch01|1.1
NumPy array|NumPy 数组|ch01|1.1
shared memory|共享内存|ch01|1.1
dtype (data type)|数据类型|ch01|1.2–1.3
shape|形状|ch01|1.2–1.3
device|设备|ch01|1.2–1.3
scalar|标量|ch01|1.2–1.3
vector|向量|ch01|1.2–1.3
matrix|矩阵|ch01|1.2–1.3
factory function|工厂函数|ch01|1.2–1.3
indexing|索引|ch01|1.4
slicing|切片|ch01|1.4
stride|步长（内存跨度）|ch01|1.4
contiguous|连续（内存）|ch01|1.4
view|视图|ch01|1.4
reshape|重塑形状|ch01|1.4
permute|维度重排|ch01|1.4
concatenate (cat)|拼接|ch01|1.4
stack|堆叠|ch01|1.4
broadcasting|广播机制|ch01|1.5
element-wise operation|逐元素运算|ch01|1.5
matrix multiplication|矩阵乘法|ch01|1.5
Einstein summation (einsum)|爱因斯坦求和约定|ch01|1.5
GPU|图形处理器|ch01|1.6
CUDA|CUDA（英伟达并行计算平台）|ch01|1.6
linear regression|线性回归|ch01|1.7
least squares|最小二乘法|ch01|1.7
automatic differentiation|自动微分|ch02|2.1
gradient|梯度|ch02|2.1
computation graph|计算图|ch02|2.2
dynamic graph|动态图|ch02|2.2
leaf tensor|叶子张量|ch02|2.3
requires_grad|需要梯度（requires_grad）|ch02|2.3
backpropagation|反向传播|ch02|2.4–2.5
chain rule|链式法则|ch02|2.4–2.5
grad_fn|梯度函数（grad_fn）|ch02|2.2
detach|分离（detach）|ch02|2.6
no_grad|禁用梯度（no_grad）|ch02|2.6
gradient accumulation|梯度累积|ch02|2.7
zero_grad|梯度清零|ch02|2.7
finite differences|有限差分|ch02|2.8
gradcheck|梯度检查|ch02|2.8
Jacobian|雅可比矩阵|ch02|2.8
module|模块|ch03|3.1
layer|层|ch03|3.2
linear layer (fully connected)|线性层（全连接层）|ch03|3.2
convolution|卷积|ch03|3.2
transposed convolution|转置卷积|ch03|3.2
recurrent neural network (RNN)|循环神经网络|ch03|3.2
LSTM|长短期记忆网络|ch03|3.2
GRU|门控循环单元|ch03|3.2
pooling|池化|ch03|3.2
activation function|激活函数|ch03|3.2
ReLU|线性整流函数（ReLU）|ch03|3.2
sigmoid|S 型函数（sigmoid）|ch03|3.2
softmax|归一化指数函数（softmax）|ch03|3.2
dropout|随机失活（Dropout）|ch03|3.2
batch normalization|批量归一化|ch03|3.2
container|容器|ch03|3.3
Sequential|顺序容器|ch03|3.3
weight initialization|权重初始化|ch03|3.4
vanishing gradient|梯度消失|ch03|3.4
exploding gradient|梯度爆炸|ch03|3.4
Xavier initialization|Xavier 初始化|ch03|3.4
Kaiming initialization|Kaiming（何凯明）初始化|ch03|3.4
parameter|参数|ch03|3.5
state_dict|状态字典|ch03|3.5
multilayer perceptron (MLP)|多层感知机|ch03|3.6
loss function|损失函数|ch04|4.1
mean squared error (MSE)|均方误差|ch04|4.1
cross-entropy|交叉熵|ch04|4.1
logits|对数几率（logits）|ch04|4.1
binary cross-entropy (BCE)|二元交叉熵|ch04|4.1
Huber loss|Huber 损失|ch04|4.1
numerical stability|数值稳定性|ch04|4.1
optimizer|优化器|ch04|4.2
stochastic gradient descent (SGD)|随机梯度下降|ch04|4.2
momentum|动量|ch04|4.2
Adam|Adam 优化器|ch04|4.2
weight decay|权重衰减|ch04|4.2
learning rate|学习率|ch04|4.3
learning-rate scheduler|学习率调度器|ch04|4.3
warmup|预热|ch04|4.3
cosine annealing|余弦退火|ch04|4.3
dataset|数据集|ch05|5.1
training set|训练集|ch05|5.1
validation set|验证集|ch05|5.1
decision boundary|决策边界|ch05|5.4
training loop|训练循环|ch05|5.4
forward pass|前向传播|ch05|5.4
epoch|轮次（epoch）|ch05|5.4
batch|批次|ch05|5.4
accuracy|准确率|ch05|5.5
confusion matrix|混淆矩阵|ch05|5.5
checkpoint|检查点|ch05|5.6
safetensors|safetensors 格式|ch05|5.6
Dataset (class)|数据集类（Dataset）|ch06|6.1
IterableDataset|可迭代数据集|ch06|6.1
DataLoader|数据加载器|ch06|6.2
sampler|采样器|ch06|6.2
collate function|整理函数（collate_fn）|ch06|6.2
worker process|工作进程|ch06|6.2
pinned memory|锁页内存|ch06|6.2
data augmentation|数据增强|ch06|6.3
normalization|标准化|ch06|6.3
padding|填充|ch06|6.4
data pipeline|数据管道|ch06|6.5
kernel (filter)|卷积核|ch07|7.1
feature map|特征图|ch07|7.1
receptive field|感受野|ch07|7.1
residual connection|残差连接|ch07|7.2
transfer learning|迁移学习|ch07|7.3
fine-tuning|微调|ch07|7.3
backbone|骨干网络|ch07|7.3
class imbalance|类别不平衡|ch07|7.4
recall|召回率|ch07|7.4
tokenization|分词|ch08|8.1
vocabulary|词表|ch08|8.1
word embedding|词嵌入|ch08|8.2
skip-gram|跳字模型|ch08|8.2
hidden state|隐藏状态|ch08|8.3
sequence-to-sequence (seq2seq)|序列到序列|ch08|8.5
attention mechanism|注意力机制|ch08|8.5
sentiment analysis|情感分析|ch08|8.7
overfitting|过拟合|ch09|9.1–9.2
regularization|正则化|ch09|9.1–9.2
early stopping|早停|ch09|9.1–9.2
learning-rate finder|学习率查找器|ch09|9.3
gradient clipping|梯度裁剪|ch09|9.4
TensorBoard|TensorBoard 可视化工具|ch09|9.5
hook|钩子|ch09|9.6
reproducibility|可复现性|ch09|9.7
random seed|随机种子|ch09|9.7
hyperparameter|超参数|ch09|9.8
self-attention|自注意力|ch10|10.1
multi-head attention|多头注意力|ch10|10.2
positional encoding|位置编码|ch10|10.3
encoder|编码器|ch10|10.3
decoder|解码器|ch10|10.3
Transformer|Transformer 架构|ch10|10.4
BERT|BERT 模型|ch10|10.5
GPT|GPT 模型|ch10|10.5
Vision Transformer (ViT)|视觉 Transformer|ch10|10.6
large language model (LLM)|大语言模型|ch11|11.1
pre-training|预训练|ch11|11.1
tokenizer|分词器|ch11|11.2
LoRA|低秩适配（LoRA）|ch11|11.3
prompt engineering|提示工程|ch11|11.4
generative adversarial network (GAN)|生成对抗网络|ch12|12.1
generator|生成器|ch12|12.1
discriminator|判别器|ch12|12.1
variational autoencoder (VAE)|变分自编码器|ch12|12.2
latent space|潜在空间|ch12|12.2
diffusion model|扩散模型|ch12|12.3
mode collapse|模式崩溃|ch12|12.4
inference|推理|ch13|13.1
TorchScript|TorchScript 脚本化|ch13|13.2
ONNX|开放神经网络交换格式|ch13|13.3
model serving|模型服务|ch13|13.4
quantization|量化|ch13|13.6
pruning|剪枝|ch13|13.6
distributed training|分布式训练|ch14|14.1
data parallelism|数据并行|ch14|14.2
DistributedDataParallel (DDP)|分布式数据并行|ch14|14.2
model parallelism|模型并行|ch14|14.3
all-reduce|全归约|ch14|14.4
backend (NCCL, Gloo)|通信后端|ch14|14.4
interpretability|可解释性|ch15|15.2
hyperparameter optimization|超参数优化|ch15|15.3
graph neural network (GNN)|图神经网络|ch15|15.4
multimodal learning|多模态学习|ch16|16.1
contrastive learning|对比学习|ch16|16.1
reinforcement learning|强化学习|ch16|16.2
adversarial example|对抗样本|ch16|16.3
fairness|公平性|ch16|16.3
foundation model|基础模型|ch16|16.4
mixed precision|混合精度|ch16|16.5
compilation (torch.compile)|编译（torch.compile）|ch16|16.6
eigenvalue|特征值|appendix|A.1
eigenvector|特征向量|appendix|A.1
determinant|行列式|appendix|A.1
linear transformation|线性变换|appendix|A.1
derivative|导数|appendix|A.2
probability distribution|概率分布|appendix|A.3
probability density|概率密度|appendix|A.3
sampling|采样|appendix|A.3
histogram|直方图|appendix|A.3
"""

TERMS: tuple[Term, ...] = tuple(Term(*line.split("|")) for line in _ROWS.strip().splitlines())


def link(term: Term) -> dict:
    """Where a term is used: ``{"chapter", "section", "url", "built"}``; ``url`` is None while the
    chapter's page is not built (show the section as plain text then)."""
    chapter = CHAPTERS_BY_ID[term.chapter]
    return {"chapter": term.chapter, "number": chapter.number, "section": term.section,
            "url": f"/{chapter.url_path}" if chapter.built else None, "built": chapter.built}


def _norm(text: str) -> str:
    return re.sub(r"[\s_\-()（）]+", " ", text.lower()).strip()


def search_terms(query: str, limit: int | None = None) -> list[Term]:
    """Terms whose English or Chinese side contains ``query`` (case-, space- and hyphen-blind);
    exact and prefix matches first. An empty query lists every term."""
    q = _norm(query)
    if not q:
        return list(TERMS)[:limit]
    ranked = []
    for k, term in enumerate(TERMS):
        en, zh = _norm(term.en), _norm(term.zh)
        if q in (en, zh):
            rank = 0
        elif en.startswith(q) or zh.startswith(q):
            rank = 1
        elif q in en or q in zh:
            rank = 2
        else:
            continue
        ranked.append((rank, k, term))
    ranked.sort(key=lambda r: (r[0], r[1]))
    return [term for _, _, term in ranked][:limit]
