"""Reference data of the demo: channels, regions, names, the catalogue, reasons and the status mix by age."""

from __future__ import annotations

from channels.choices import Platform
from orders.choices import (
    ExceptionReason,
    HoldKind,
    OrderStatus,
    PaymentMethod,
)

S = OrderStatus
BATCH = 2000
WINDOW_DAYS = 90

# --- Reference data ------------------------------------------------------------------------------------

# (code, shop name, platform, share of orders)
CHANNELS = [
    ("tmall-flagship", "悦品生活天猫旗舰店", Platform.TMALL, 22),
    ("taobao-shop", "悦品生活淘宝店", Platform.TAOBAO, 18),
    ("jd-store", "悦品生活京东自营店", Platform.JD, 15),
    ("pdd-shop", "悦品生活拼多多店", Platform.PINDUODUO, 14),
    ("douyin-live", "悦品生活抖音小店", Platform.DOUYIN, 14),
    ("wechat-shop", "悦品生活微信小店", Platform.WECHAT, 7),
    ("website", "悦品生活官网商城", Platform.WEBSITE, 5),
    ("shopify-global", "Yuepin Living (Shopify)", Platform.SHOPIFY, 5),
]

WAREHOUSES = [
    ("hz-main", "杭州主仓", "浙江省", "杭州市"),
    ("gz-south", "广州华南仓", "广东省", "广州市"),
    ("bj-north", "北京华北仓", "北京市", "北京市"),
    ("cd-west", "成都西南仓", "四川省", "成都市"),
]

# province: (warehouse, share, [(city, postcode, districts)])
REGIONS = {
    "浙江省": (
        "hz-main",
        12,
        [
            ("杭州市", "310000", ["西湖区", "滨江区", "余杭区", "拱墅区"]),
            ("宁波市", "315000", ["鄞州区", "海曙区"]),
            ("温州市", "325000", ["鹿城区", "瓯海区"]),
        ],
    ),
    "江苏省": (
        "hz-main",
        11,
        [
            ("南京市", "210000", ["鼓楼区", "玄武区", "江宁区"]),
            ("苏州市", "215000", ["姑苏区", "工业园区", "吴中区"]),
            ("无锡市", "214000", ["梁溪区", "滨湖区"]),
        ],
    ),
    "上海市": ("hz-main", 9, [("上海市", "200000", ["浦东新区", "徐汇区", "静安区", "闵行区", "杨浦区"])]),
    "安徽省": ("hz-main", 4, [("合肥市", "230000", ["蜀山区", "包河区"]), ("芜湖市", "241000", ["镜湖区"])]),
    "福建省": (
        "gz-south",
        4,
        [("福州市", "350000", ["鼓楼区", "仓山区"]), ("厦门市", "361000", ["思明区", "湖里区"])],
    ),
    "广东省": (
        "gz-south",
        14,
        [
            ("广州市", "510000", ["天河区", "越秀区", "海珠区", "番禺区"]),
            ("深圳市", "518000", ["南山区", "福田区", "宝安区", "龙岗区"]),
            ("东莞市", "523000", ["南城街道"]),
            ("佛山市", "528000", ["禅城区", "顺德区"]),
        ],
    ),
    "广西壮族自治区": ("gz-south", 2, [("南宁市", "530000", ["青秀区", "西乡塘区"])]),
    "湖南省": ("gz-south", 4, [("长沙市", "410000", ["岳麓区", "芙蓉区", "雨花区"])]),
    "北京市": ("bj-north", 7, [("北京市", "100000", ["朝阳区", "海淀区", "东城区", "丰台区"])]),
    "天津市": ("bj-north", 2, [("天津市", "300000", ["南开区", "和平区"])]),
    "河北省": (
        "bj-north",
        3,
        [("石家庄市", "050000", ["长安区", "裕华区"]), ("保定市", "071000", ["竞秀区"])],
    ),
    "山东省": (
        "bj-north",
        6,
        [("济南市", "250000", ["历下区", "市中区"]), ("青岛市", "266000", ["市南区", "崂山区", "黄岛区"])],
    ),
    "辽宁省": (
        "bj-north",
        2,
        [("沈阳市", "110000", ["和平区", "浑南区"]), ("大连市", "116000", ["中山区", "甘井子区"])],
    ),
    "河南省": ("bj-north", 4, [("郑州市", "450000", ["金水区", "郑东新区", "二七区"])]),
    "湖北省": ("hz-main", 4, [("武汉市", "430000", ["武昌区", "洪山区", "江汉区"])]),
    "四川省": (
        "cd-west",
        5,
        [("成都市", "610000", ["武侯区", "锦江区", "高新区", "青羊区"]), ("绵阳市", "621000", ["涪城区"])],
    ),
    "重庆市": ("cd-west", 3, [("重庆市", "400000", ["渝北区", "江北区", "南岸区", "沙坪坝区"])]),
    "陕西省": ("cd-west", 2, [("西安市", "710000", ["雁塔区", "碑林区", "未央区"])]),
    "云南省": ("cd-west", 2, [("昆明市", "650000", ["五华区", "盘龙区"])]),
}

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任卢姚沈钟姜崔谭陆范汪廖石金贾夏付方邹熊白孟秦邱侯江尹薛段雷黎史陶贺毛郝顾龚邵万钱戴严莫孔汤"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超霞平刚华玉萍红玲芬燕彬鹏辉欣怡涵轩浩然桐诺远琪晨阳宇航婷雪琳佳瑶梓博文俊凯鑫颖倩露悦嘉睿泽昊"
ROADS = [
    "人民路",
    "解放路",
    "中山路",
    "建设路",
    "文化路",
    "和平路",
    "新华路",
    "长江路",
    "学府路",
    "科技路",
    "滨江大道",
    "东风路",
    "青年路",
    "花园路",
    "朝阳路",
    "胜利路",
    "幸福路",
    "湖滨路",
    "南京路",
    "天府大道",
    "金融街",
]
ESTATES = [
    "阳光花园",
    "金色家园",
    "锦绣华庭",
    "翠苑小区",
    "世纪城",
    "万科城市花园",
    "碧桂园",
    "绿城桂花园",
    "保利香槟国际",
    "华润二十四城",
    "龙湖春江郦城",
    "融创玖玺",
    "中海国际社区",
]
TOWERS = ["国际大厦", "环球中心", "创新大厦", "财富广场", "科技园A座", "万达广场"]

# category, SKU prefix, [(base name, list price)], [(variant suffix, price factor)]
CATALOGUE = [
    (
        "茶叶",
        "TEA",
        [
            ("西湖龙井明前特级", 268),
            ("安溪铁观音清香型", 128),
            ("云南普洱熟茶饼357g", 198),
            ("武夷山大红袍", 238),
            ("福鼎白茶白牡丹", 168),
            ("祁门红茶", 138),
            ("信阳毛尖", 118),
            ("洞庭碧螺春", 158),
            ("福州茉莉花茶", 68),
            ("正山小种", 148),
            ("六安瓜片", 188),
            ("黄山毛峰", 98),
        ],
        [("罐装125g", 1.0), ("礼盒装250g", 2.1), ("试饮装50g", 0.45)],
    ),
    (
        "零食",
        "SNK",
        [
            ("每日坚果混合装", 129),
            ("手撕风干牛肉干", 59),
            ("泰国芒果干", 29.9),
            ("夏威夷果奶油味", 49),
            ("碧根果", 55),
            ("靖江猪肉脯", 39),
            ("海苔夹心脆", 25),
            ("雪媚娘蛋黄酥", 35),
            ("卤味鸭脖", 45),
            ("新疆奶枣", 32),
            ("柳州螺蛳粉", 39.9),
            ("麻辣牛肉粒", 42),
        ],
        [("标准装", 1.0), ("家庭分享装", 2.4), ("尝鲜小包", 0.4)],
    ),
    (
        "服饰",
        "APP",
        [
            ("新疆长绒棉短袖T恤", 99),
            ("加绒连帽卫衣", 199),
            ("直筒休闲牛仔裤", 229),
            ("羊毛针织开衫", 369),
            ("轻薄白鸭绒羽绒服", 499),
            ("冰丝运动速干裤", 139),
        ],
        [(f"{colour} {size}", 1.0) for colour in ("黑色", "燕麦白") for size in ("S", "M", "L", "XL")],
    ),
    (
        "数码配件",
        "ELC",
        [
            ("20W PD快充充电器", 59),
            ("Type-C编织数据线1米", 29),
            ("磁吸无线充电宝10000mAh", 169),
            ("降噪蓝牙耳机", 299),
            ("iPhone 15 磁吸手机壳", 79),
            ("高清钢化膜两片装", 25),
            ("车载出风口手机支架", 49),
            ("铝合金桌面手机支架", 39),
            ("65W氮化镓充电器", 139),
            ("静音无线鼠标", 69),
            ("87键机械键盘", 259),
            ("USB-C七合一扩展坞", 199),
        ],
        [("曜石黑", 1.0), ("云雾白", 1.0), ("远峰蓝", 1.05)],
    ),
    (
        "美妆护肤",
        "COS",
        [
            ("玻尿酸保湿精华液", 239),
            ("烟酰胺亮肤面膜10片", 99),
            ("氨基酸温和洁面乳", 69),
            ("清透防晒霜SPF50", 129),
            ("丝绒哑光口红", 159),
            ("轻薄持妆气垫BB霜", 189),
            ("温和卸妆水", 79),
            ("紧致淡纹眼霜", 299),
            ("烟酰胺身体乳", 89),
            ("樱花护手霜", 39),
        ],
        [("正装", 1.0), ("旅行装", 0.4)],
    ),
    (
        "家居",
        "HOM",
        [
            ("60支长绒棉四件套", 459),
            ("泰国天然乳胶枕", 199),
            ("316不锈钢保温杯", 129),
            ("大豆蜡香薰蜡烛", 79),
            ("可折叠收纳箱", 59),
            ("A类纯棉毛巾", 39),
        ],
        [("经典款", 1.0), ("升级款", 1.35), ("两件套", 1.8), ("礼盒款", 2.2)],
    ),
]

TAGS = [
    ("VIP", "amber"),
    ("老客户", "green"),
    ("大额订单", "red"),
    ("加急", "orange"),
    ("赠品", "blue"),
    ("易碎", "purple"),
    ("预售", "cyan"),
    ("直播间", "pink"),
]
CLERKS = [
    ("demo.wangfang", "王芳"),
    ("demo.lijing", "李静"),
    ("demo.zhangwei", "张伟"),
    ("demo.liuyang", "刘洋"),
]
CARRIERS = [
    ("顺丰速运", "SF", 13, 25),
    ("中通快递", "78", 13, 25),
    ("圆通速递", "YT", 13, 15),
    ("韵达快递", "43", 13, 12),
    ("申通快递", "77", 13, 8),
    ("极兔速递", "JT", 13, 8),
    ("邮政EMS", "98", 11, 7),
]
PAY_METHODS = {
    Platform.TMALL: [PaymentMethod.ALIPAY],
    Platform.TAOBAO: [PaymentMethod.ALIPAY],
    Platform.JD: [PaymentMethod.PLATFORM, PaymentMethod.WECHAT_PAY],
    Platform.PINDUODUO: [PaymentMethod.WECHAT_PAY, PaymentMethod.ALIPAY],
    Platform.DOUYIN: [PaymentMethod.PLATFORM, PaymentMethod.ALIPAY, PaymentMethod.WECHAT_PAY],
    Platform.WECHAT: [PaymentMethod.WECHAT_PAY],
    Platform.WEBSITE: [PaymentMethod.ALIPAY, PaymentMethod.WECHAT_PAY],
    Platform.SHOPIFY: [PaymentMethod.CARD],
}
HOLD_REASONS = {
    HoldKind.REVIEW: [
        "买家要求修改收货地址",
        "疑似刷单，待核实",
        "备注要求指定快递，待确认",
        "同一买家短时间内多笔订单",
    ],
    HoldKind.FINANCE: [
        "大额订单待财务审核",
        "支付金额与订单金额不一致",
        "对公转账待到账确认",
        "发票信息待核对",
    ],
    HoldKind.DELAYED: ["买家要求延迟发货", "等待赠品到货后合并发货"],
}
CANCEL_REASONS = {
    S.PENDING_PAYMENT: ["买家取消：拍错了/不想要了", "买家取消：重复下单"],
    S.PENDING_REVIEW: ["买家申请退款：不想要了", "买家申请退款：地址填错", "缺货，与买家协商取消"],
    S.AWAITING_SHIPMENT: ["买家申请退款：发货太慢", "缺货，与买家协商取消"],
}
EXCEPTIONS_FOR = {
    S.PENDING_PAYMENT: [ExceptionReason.PAYMENT_OVERDUE, ExceptionReason.SUSPECTED_DUPLICATE],
    S.PENDING_REVIEW: [
        ExceptionReason.ADDRESS_INCOMPLETE,
        ExceptionReason.STOCK_SHORT,
        ExceptionReason.SUSPECTED_DUPLICATE,
        ExceptionReason.AMOUNT_ANOMALY,
        ExceptionReason.RULE_FLAGGED,
    ],
    S.AWAITING_SHIPMENT: [ExceptionReason.SYNC_CONFLICT, ExceptionReason.RULE_FLAGGED],
    S.ON_HOLD: [
        ExceptionReason.AMOUNT_ANOMALY,
        ExceptionReason.RULE_FLAGGED,
        ExceptionReason.SUSPECTED_DUPLICATE,
    ],
    S.SHIPPED: [ExceptionReason.SYNC_CONFLICT],
}
EXCEPTION_DETAILS = {
    ExceptionReason.ADDRESS_INCOMPLETE: "收货地址缺少街道门牌号",
    ExceptionReason.PAYMENT_OVERDUE: "下单超过30分钟仍未付款",
    ExceptionReason.STOCK_SHORT: "审核时可用库存不足",
    ExceptionReason.SUSPECTED_DUPLICATE: "同一收货人10分钟内有相同商品订单",
    ExceptionReason.AMOUNT_ANOMALY: "实付金额低于商品成本价",
    ExceptionReason.RULE_FLAGGED: "命中规则：高风险收货地址",
    ExceptionReason.SYNC_CONFLICT: "平台状态与本地状态不一致",
}

HOUR_WEIGHTS = [3, 2, 1, 1, 1, 1, 2, 4, 6, 7, 8, 9, 11, 10, 8, 8, 8, 8, 9, 11, 15, 17, 15, 8]
"""Share of orders per hour of day: a midday bump and the evening peak (20:00–22:00)."""

# Status mix by order age in days (upper bound of the bucket → weights); old orders are mostly completed.
AGE_MIX = [
    (
        1,
        {
            S.PENDING_PAYMENT: 12,
            S.PENDING_REVIEW: 14,
            S.AWAITING_SHIPMENT: 32,
            S.PARTIALLY_SHIPPED: 3,
            S.SHIPPED: 18,
            S.ON_HOLD: 6,
            S.CANCELLED: 9,
            S.CLOSED: 6,
        },
    ),
    (
        3,
        {
            S.PENDING_REVIEW: 3,
            S.AWAITING_SHIPMENT: 12,
            S.PARTIALLY_SHIPPED: 4,
            S.SHIPPED: 44,
            S.DELIVERED: 12,
            S.COMPLETED: 6,
            S.ON_HOLD: 4,
            S.CANCELLED: 9,
            S.CLOSED: 6,
        },
    ),
    (
        10,
        {
            S.AWAITING_SHIPMENT: 1,
            S.PARTIALLY_SHIPPED: 1,
            S.SHIPPED: 12,
            S.DELIVERED: 30,
            S.COMPLETED: 38,
            S.ON_HOLD: 2,
            S.CANCELLED: 8,
            S.CLOSED: 8,
        },
    ),
    (10_000, {S.SHIPPED: 1, S.DELIVERED: 2, S.COMPLETED: 78, S.ON_HOLD: 1, S.CANCELLED: 9, S.CLOSED: 9}),
]
MIN_AGE_DAYS = {S.COMPLETED: 7, S.DELIVERED: 3, S.CLOSED: 2, S.SHIPPED: 1}
"""When a status must be forced onto some order (so every status is present), the youngest suitable age."""

# Nominal stage durations in seconds (low, high); scaled down when an order is younger than its path.
DURATIONS = {
    "paid": (20, 900),
    "confirmed": (120, 6 * 3600),
    "shipped": (3 * 3600, 48 * 3600),
    "shipped2": (86400, 3 * 86400),
    "delivered": (86400, 4 * 86400),
    "completed": (2 * 86400, 10 * 86400),
    "held": (60, 3 * 3600),
    "cancelled": (300, 2 * 86400),
    "timeout": (1800, 86400),
    "returned": (2 * 86400, 7 * 86400),
}
